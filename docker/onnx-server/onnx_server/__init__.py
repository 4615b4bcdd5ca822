"""An OpenAI-compatible HTTP server for onnxruntime-genai models (the kit's `onnx` engine)."""

__version__ = "0.1.0"

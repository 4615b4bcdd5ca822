"""`python -m onnx_server --model-dir DIR --host H --port P ...`: serve one model until SIGTERM."""

from __future__ import annotations

import logging
import sys

from .settings import SettingsError, settings_from_args


def main(argv: list[str] | None = None) -> int:
    from .logs import configure_logging

    try:
        settings = settings_from_args(argv)
    except SettingsError as exc:
        print(f"onnx_server: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)

    import uvicorn

    from .app import create_app
    from .connections import BACKLOG, effective_cap, guarded_protocol, open_file_limit
    from .drain import SHUTDOWN_SECONDS, DrainingServer

    failure: list[Exception] = []

    def stop_on_load_failure(exc: Exception) -> None:
        failure.append(exc)
        server.should_exit = True  # exit non-zero so the orchestrator restarts or reports the pod

    app = create_app(settings, on_load_failure=stop_on_load_failure)
    file_limit = open_file_limit()
    max_connections = effective_cap(settings.max_connections, file_limit)
    # timeout_graceful_shutdown runs after the drain (drain.py): by then every response has ended.
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=SHUTDOWN_SECONDS, server_header=False, backlog=BACKLOG,
                            timeout_keep_alive=settings.idle_timeout,
                            http=guarded_protocol(settings.header_timeout, max_connections))
    server = DrainingServer(config, app.state.server, settings.drain_seconds)
    logging.getLogger("onnx_server").info(
        "starting", extra={"host": settings.host, "port": settings.port, "model": settings.served_model_name,
                           "auth": settings.api_key is not None, "max_concurrency": settings.max_concurrency,
                           "max_queue": settings.max_queue, "max_connections": max_connections,
                           "open_file_limit": file_limit, "header_timeout": settings.header_timeout,
                           "body_timeout": settings.body_timeout, "idle_timeout": settings.idle_timeout,
                           "drain_seconds": settings.drain_seconds})
    server.run()
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())

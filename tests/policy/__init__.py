"""Tests of the policy pack (policy/) and of the offline plan's policy check."""

"""Tests of the example IVR web services in examples/."""

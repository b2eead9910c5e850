"""Metrics, logs and the request edge."""

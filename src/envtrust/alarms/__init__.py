"""Alarms raised from check findings, and the channels that notify people about them."""

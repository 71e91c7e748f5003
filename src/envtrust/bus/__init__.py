"""Cluster mode: gateways publish received frames to a NATS JetStream stream; workers store them into PostgreSQL.

``codec`` (pure) is what travels on the stream, ``jetstream`` the stream and its consumers, ``sink`` the gateway's
side, ``worker`` the worker's side.  Single-process mode (the default) uses none of this.
"""

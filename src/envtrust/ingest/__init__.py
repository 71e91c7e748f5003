"""Thin I/O around the pure codec: the asyncio TCP gateway and file import."""

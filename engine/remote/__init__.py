"""Provides the engine's Redis side: state keys, the event stream, commands, heartbeat."""

"""Provides the desk's modal screens: confirm, close, roll and help."""

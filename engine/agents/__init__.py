"""Provides the agents: scanners emit signals, analysts propose, managers recommend."""

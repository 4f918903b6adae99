"""Fabric Flow: automations that run on the cluster."""

"""The stream stage hosts that are not Faust apps (see docs/scaling.md)."""

"""Wire records for every BrightKitchen topic (see records.py)."""

"""Thin Faust shells: decode, feed the engines, produce, report progress."""

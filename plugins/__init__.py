"""The built-in adapters, each a plugin declared under the practice_sync.plugins group."""

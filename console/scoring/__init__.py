"""What a task is worth and what the queue has learned: the priority model's constants and
vectorised expressions (`priority`), the learned rates the claim path reads (`learned`, no
polars) and the vectorised learning run at refresh (`learning`).

May import: console.platform, console.models, loopdesk_core.
"""

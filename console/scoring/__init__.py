"""What a task is worth and what the queue has learned: the priority model's constants and
vectorised expressions (`priority`), the learned rates the claim path reads (`learned`, no
polars) and the vectorised learning run at refresh (`learning`). The default P(refer | asked)
is the warehouse's own prior (`warehouse.rules`, the facts both sides share), hence `warehouse`.

May import: console.platform, console.models, loopdesk_core, warehouse.
"""

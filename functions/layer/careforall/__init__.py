"""CareForAll shared library, shipped to every function as the SharedLayer.

Nothing here calls AWS except `secrets` (the one data-access module of the layer).
"""

"""HCAM: hierarchical cross-attention model for emotion recognition in conversations (issue #19).

``system`` registers ``hcam`` and its presets; ``pipeline`` (torch) trains the three stages.
"""

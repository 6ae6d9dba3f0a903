"""Text prompts of the CLIP heads, as plain strings: sweep declarations name them without importing torch."""

# FLIP-IT's ensemble (koushiksrivats/FLIP prompt_templates.py): six sentences per class.
FLIP_ATTACK_PROMPTS = ("This is an example of a spoof face", "This is an example of an attack face",
                       "This is not a real face", "This is how a spoof face looks like", "a photo of a spoof face",
                       "a printout shown to be a spoof face")
FLIP_LIVE_PROMPTS = ("This is an example of a real face", "This is a bonafide face", "This is a real face",
                     "This is how a real face looks like", "a photo of a real face", "This is not a spoof face")

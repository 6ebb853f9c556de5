"""colorsite's machine-learning core: Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016).

The modules here import no Django; `management/commands/` holds thin wrappers around them.
"""

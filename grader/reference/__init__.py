"""Reference implementations, one module per chapter (instructor-only).

Hidden tests compare student answers with these on fresh random inputs; nothing a
student receives imports them.
"""

-- Whether the event's mirror is present (loaded, registered, of this format): 1 or 0.
return mirrored() and 1 or 0

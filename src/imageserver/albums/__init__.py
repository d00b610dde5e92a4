"""Collections: favorites, archive, albums shared with the household, share links, memories."""

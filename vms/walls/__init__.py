"""Video walls: each user's saved layouts of cameras in tiles."""

"""What bpt311 keeps about people, for how long, and how a resident takes it away."""

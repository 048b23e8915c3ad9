-- Version 17: what the protocols need to know of a child beyond the allocation.
-- cp_chair_id: the child protection conference chair for a child with a protection plan; the
--   found alert goes to them (B LCS §1.9).
-- placement_type: how the child is placed; a child placed with parents is visited within
--   72 hours of return (WY §8 "Placement with Parents").
-- no_parent_contact: the care plan says the parents are not told (H §6.4.6 "unless indicated
--   otherwise on the care plan", J §5.4).
-- family: children of one family share it; siblings reported together are linked anyway.
ALTER TABLE children ADD COLUMN cp_chair_id TEXT REFERENCES staff(id);
ALTER TABLE children ADD COLUMN placement_type TEXT;
ALTER TABLE children ADD COLUMN no_parent_contact INTEGER NOT NULL DEFAULT 0;
ALTER TABLE children ADD COLUMN family TEXT;

-- Per-agent figures (attempts, conversations, talk time per agent) are
-- personnel data co-determined by the staff council: a mandate shows them
-- to the service center's team leads only where its job center switched
-- them on, with the date and reference of the staff-council agreement
-- (Dienstvereinbarung). Both empty: switched off.
ALTER TABLE mandates ADD COLUMN agent_figures_agreed_on TEXT;
ALTER TABLE mandates ADD COLUMN agent_figures_reference TEXT;

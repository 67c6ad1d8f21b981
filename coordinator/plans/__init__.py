"""plans feature: discharge agreements (§13a) and coordination plans (§13b).

services     the plan's life: draft, edit, propose, participation, activation, revision, end, withdrawal
answers      the parties' answers (receipt, accept, reject, comment) and when they make the plan agreed
parties      who the parties are: home municipality, the GP party following the patient's GP, missing parties
requirement  the §13a assessment of a stay and whether an agreed plan is in place before discharge
queries      the read side: one plan, a patient's plans, version comparison, the searches
loading      what the use cases share: load a plan once the actor may act on it, flush, audit, transitions

Imports point one way: loading <- answers <- parties <- services; requirement and queries use loading.
"""

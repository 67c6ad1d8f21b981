"""Encounter and EpisodeOfCare: a pathway (one stay at a ward) seen as the visit and as the episode."""

from __future__ import annotations

from collections.abc import Callable

from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import get_pathway, list_patient_pathways
from coordinator.fhir import records
from coordinator.fhir.core import JSON, Context, SearchQuery, SearchResult, bad_search, int_id
from coordinator.fhir.search import page_after, reference_ids
from fhir_adapters.common import to_json
from fhir_adapters.encounter import encounter_to_fhir, episode_of_care_to_fhir

Mapper = Callable[[Pathway], JSON]


def encounter_json(pathway: Pathway) -> JSON:
    return to_json(encounter_to_fhir(records.encounter_record(pathway)))


def episode_json(pathway: Pathway) -> JSON:
    return to_json(episode_of_care_to_fhir(records.encounter_record(pathway)))


def _read(resource_type: str, mapper: Mapper) -> Callable[[Context, str], JSON]:
    def read(ctx: Context, rid: str) -> JSON:
        pathway = get_pathway(
            ctx.session, ctx.actor, ctx.clock, pathway_id=int_id(resource_type, rid)
        )
        return mapper(pathway)

    return read


def _search(mapper: Mapper) -> Callable[[Context, SearchQuery], SearchResult]:
    def search(ctx: Context, query: SearchQuery) -> SearchResult:
        wanted = reference_ids(query, "patient", "Patient")
        if wanted is None:
            raise bad_search("searches for stays need patient")
        stays = [
            pathway
            for patient_id in sorted(wanted)
            for pathway in list_patient_pathways(
                ctx.session, ctx.actor, ctx.clock, patient_id=patient_id
            )
        ]
        page, cursor = page_after(stays, lambda pathway: str(pathway.id), query)
        return SearchResult([mapper(pathway) for pathway in page], next_cursor=cursor)

    return search


read_encounter = _read("Encounter", encounter_json)
read_episode = _read("EpisodeOfCare", episode_json)
search_encounters = _search(encounter_json)
search_episodes = _search(episode_json)

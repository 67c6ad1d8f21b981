"""MedCom FHIR messaging, pure: HospitalNotification in, Acknowledgement and CareCommunication out.

The one import for the ``$process-message`` endpoint and the outbox::

    envelope = read_envelope(body)                      # dispatch on envelope.event
    notice = parse_hospital_notification(body)          # HospitalNotice
    ack = build_acknowledgement(notice, code=AckCode.OK, outcome=None, sender=US, now=now,
                                message_id=new_id)
    # on MessageStructureInvalid / MessageContentInvalid (both ValidationFailed):
    ack = build_acknowledgement(salvage_envelope(body) or raw_id, code=AckCode.FATAL_ERROR,
                                outcome=issues_from_error(exc), sender=US, now=now, message_id=new_id)
    bundle = build_care_communication(...)              # to the outbox
    receipt = parse_acknowledgement(body)               # AckNotice: outbox row delivered / failed

Profiles and codes follow the published MedCom IGs (HospitalNotification 3.0, Acknowledgement 2.0,
CareCommunication 5.0, Messaging, Core, Terminology); see tests/fixtures/medcom/README.md. Nothing here reads
a clock or a database: pass ``now`` and the new message id in.
"""

from __future__ import annotations

from fhir_adapters.medcom_acknowledgement import (
    AckCode,
    AckIssue,
    AckNotice,
    build_acknowledgement,
    issues_from_error,
    parse_acknowledgement,
)
from fhir_adapters.medcom_care_communication import (
    CareCommunicationAuthor,
    CareCommunicationCategory,
    CareCommunicationNotice,
    CareCommunicationPatient,
    CareCommunicationSegment,
    build_care_communication,
    parse_care_communication,
)
from fhir_adapters.medcom_common import (
    DUPLICATE,
    FORBIDDEN,
    GLN_INPUT_SYSTEMS,
    INCONSISTENT,
    REQUIRED,
    EpisodeIdentifier,
    MedComEvent,
    MedComOrganization,
    MessageContentInvalid,
    MessageEnvelope,
    MessageStructureInvalid,
    message_fingerprint,
    ordering_identity,
    read_envelope,
    salvage_envelope,
)
from fhir_adapters.medcom_hospital_notification import (
    EncounterStatus,
    HospitalNotice,
    HospitalNotificationActivity,
    NoticeExpressions,
    parse_hospital_notification,
)

__all__ = [
    "DUPLICATE",
    "FORBIDDEN",
    "GLN_INPUT_SYSTEMS",
    "INCONSISTENT",
    "REQUIRED",
    "AckCode",
    "AckIssue",
    "AckNotice",
    "CareCommunicationAuthor",
    "CareCommunicationCategory",
    "CareCommunicationNotice",
    "CareCommunicationPatient",
    "CareCommunicationSegment",
    "EncounterStatus",
    "EpisodeIdentifier",
    "HospitalNotice",
    "HospitalNotificationActivity",
    "MedComEvent",
    "MedComOrganization",
    "MessageContentInvalid",
    "MessageEnvelope",
    "MessageStructureInvalid",
    "NoticeExpressions",
    "build_acknowledgement",
    "build_care_communication",
    "issues_from_error",
    "message_fingerprint",
    "ordering_identity",
    "parse_acknowledgement",
    "parse_care_communication",
    "parse_hospital_notification",
    "read_envelope",
    "salvage_envelope",
]

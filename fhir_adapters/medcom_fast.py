"""A slim, strict pydantic model of exactly the HospitalNotification elements carepath reads (issue 21 §2).

The full validation of a message with fhir.resources' R4B models (``check_r4``) costs about 1.6 ms; this
model checks, in a fraction of that, every element ``parse_hospital_notification`` reads, with the R4 rules
for it: the datatype (strict: a string is a string, a list a list), the primitive's regular expression
(id, code, uri, string, dateTime, instant), the cardinality R4 gives it (Encounter.status and class,
MessageHeader.source.endpoint, Provenance.target, Extension.url, ...) and choice types (one value[x]).
Elements carepath does not read are not looked at (extra fields are ignored), and the profile's own rules
(CPR number, SOR code, GLN, episode of care, activity and status codes...) stay in the reader, which runs
in either case.

``fast_check`` answers True when the message passes; when it does not, the caller runs the full
validation, which names the bad element (or finds it valid by R4, and the reader reports the problem).
So nothing the full validation would refuse in an element carepath reads is ever accepted.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, ClassVar

from fhir.resources.R4B import get_fhir_model_class
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

# FHIR R4 primitive datatypes (http://hl7.org/fhir/R4/datatypes.html), as their regular expressions.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-\.]{1,64}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[^\s]+( [^\s]+)*$")]
Uri = Annotated[str, StringConstraints(pattern=r"^\S*$", min_length=1)]
String = Annotated[str, StringConstraints(pattern=r"^[ \r\n\t\S]+$")]
_DATE = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
DateTime = Annotated[
    str,
    StringConstraints(
        pattern=rf"^{_DATE}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{_TIME}{_ZONE})?)?)?$"
    ),
]
Instant = Annotated[
    str,
    StringConstraints(
        pattern=rf"^{_DATE}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T{_TIME}{_ZONE}$"
    ),
]


class _Element(BaseModel):
    """Strict; the elements of the model are checked, other elements only for being R4 elements of the
    type (an unknown element, e.g. a misspelt one, sends the message to the full validation)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    r4: ClassVar[str] = ""  # the fhir.resources R4B class (module.Class) whose element names apply

    @model_validator(mode="before")
    @classmethod
    def _known_elements(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.r4 and not _element_names(cls.r4).issuperset(data):
            unknown = sorted(set(data) - _element_names(cls.r4))
            raise ValueError(f"not an element of {cls.r4}: {', '.join(unknown)}")
        return data


@cache
def _element_names(r4: str) -> frozenset[str]:
    module, _, name = r4.rpartition(".")
    model = getattr(importlib.import_module(f"fhir.resources.R4B.{module}"), name)
    return frozenset({"resourceType"} | {f.alias or k for k, f in model.model_fields.items()})


def _one_choice(data: Any, prefix: str) -> Any:
    """A choice type ([x]) has one value at most."""
    if isinstance(data, dict) and sum(1 for key in data if key.startswith(prefix)) > 1:
        raise ValueError(f"only one {prefix}[x] is allowed")
    return data


class Coding(_Element):
    r4 = "coding.Coding"
    system: Uri | None = None
    version: String | None = None
    code: Code | None = None
    display: String | None = None
    userSelected: bool | None = None  # noqa: N815 - FHIR's element name


class CodeableConcept(_Element):
    r4 = "codeableconcept.CodeableConcept"
    coding: list[Coding] | None = None
    text: String | None = None


class Period(_Element):
    r4 = "period.Period"
    start: DateTime | None = None
    end: DateTime | None = None


class Identifier(_Element):
    r4 = "identifier.Identifier"
    use: Code | None = None
    system: Uri | None = None
    value: String | None = None


class Reference(_Element):
    r4 = "reference.Reference"
    reference: String | None = None
    type: Uri | None = None
    identifier: Identifier | None = None
    display: String | None = None


class Extension(_Element):
    r4 = "extension.Extension"
    url: Uri
    valueBoolean: bool | None = None  # noqa: N815
    valueCoding: Coding | None = None  # noqa: N815
    valueCodeableConcept: CodeableConcept | None = None  # noqa: N815
    valuePeriod: Period | None = None  # noqa: N815

    @model_validator(mode="before")
    @classmethod
    def _one_value(cls, data: Any) -> Any:
        return _one_choice(data, "value")


class Meta(_Element):
    r4 = "meta.Meta"
    security: list[Coding] | None = None


class _Resource(_Element):
    resourceType: str  # noqa: N815
    id: Id | None = None
    meta: Meta | None = None


class Destination(_Element):
    r4 = "messageheader.MessageHeaderDestination"
    endpoint: Uri
    receiver: Reference | None = None
    extension: list[Extension] | None = None


class Source(_Element):
    r4 = "messageheader.MessageHeaderSource"
    endpoint: Uri


class MessageHeader(_Resource):
    r4 = "messageheader.MessageHeader"
    eventCoding: Coding  # noqa: N815 - event[x] is required; MedCom uses eventCoding
    sender: Reference | None = None
    source: Source
    destination: list[Destination] | None = None
    focus: list[Reference] | None = None
    extension: list[Extension] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_event(cls, data: Any) -> Any:
        return _one_choice(data, "event")


class HumanName(_Element):
    r4 = "humanname.HumanName"
    use: Code | None = None
    text: String | None = None
    family: String | None = None
    given: list[String] | None = None


class Address(_Element):
    r4 = "address.Address"
    extension: list[Extension] | None = None


class Patient(_Resource):
    r4 = "patient.Patient"
    identifier: list[Identifier] | None = None
    name: list[HumanName] | None = None
    address: list[Address] | None = None
    deceasedBoolean: bool | None = None  # noqa: N815
    deceasedDateTime: DateTime | None = None  # noqa: N815

    @model_validator(mode="before")
    @classmethod
    def _one_deceased(cls, data: Any) -> Any:
        return _one_choice(data, "deceased")


class Encounter(_Resource):
    r4 = "encounter.Encounter"
    status: Code
    class_: Coding = Field(alias="class")  # 1..1 in R4
    period: Period | None = None
    extension: list[Extension] | None = None
    episodeOfCare: list[Reference] | None = None  # noqa: N815
    serviceProvider: Reference | None = None  # noqa: N815


class Organization(_Resource):
    r4 = "organization.Organization"
    identifier: list[Identifier] | None = None
    name: String | None = None


class ProvenanceEntity(_Element):
    r4 = "provenance.ProvenanceEntity"
    role: Code
    what: Reference


class Provenance(_Resource):
    r4 = "provenance.Provenance"
    target: list[Reference]
    occurredDateTime: DateTime | None = None  # noqa: N815
    activity: CodeableConcept | None = None
    entity: list[ProvenanceEntity] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_occurred(cls, data: Any) -> Any:
        return _one_choice(data, "occurred")


class Entry(_Element):
    r4 = "bundle.BundleEntry"
    fullUrl: Uri | None = None  # noqa: N815
    resource: dict[str, Any]


class Bundle(_Element):
    r4 = "bundle.Bundle"
    resourceType: str  # noqa: N815
    id: Id | None = None
    type: Code
    timestamp: Instant | None = None
    entry: list[Entry]


READ: dict[str, type[_Resource]] = {
    "MessageHeader": MessageHeader,
    "Patient": Patient,
    "Encounter": Encounter,
    "Organization": Organization,
    "Provenance": Provenance,
}


def fast_check(bundle: Mapping[str, Any]) -> bool:
    """True when every element carepath reads of this HospitalNotification is valid FHIR R4 (see the
    module's docstring); False sends the caller to the full validation."""
    try:
        parsed = Bundle.model_validate(bundle)
        for entry in parsed.entry:
            rtype = entry.resource.get("resourceType")
            if not isinstance(rtype, str):
                return False
            model = READ.get(rtype)
            if model is None:
                get_fhir_model_class(rtype)  # a known resource type, not read further
            else:
                model.model_validate(entry.resource)
    except (ValidationError, ValueError, TypeError):
        return False
    return True

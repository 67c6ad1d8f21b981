"""Pure mappers between the carepath domain and HL7 FHIR R4 (fhir.resources R4B models, see ADR 0002)."""

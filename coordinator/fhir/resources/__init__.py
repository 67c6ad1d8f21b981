"""The handlers of each served resource type; coordinator.fhir.table declares which are served."""

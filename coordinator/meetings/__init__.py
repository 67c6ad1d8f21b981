"""Network meetings (netværksmøder): request, schedule, record, cancel; the actions agreed and their follow-up."""

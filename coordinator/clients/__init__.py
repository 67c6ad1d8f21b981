"""System clients: other systems that call carepath with OAuth2 client credentials (SMART Backend Services)."""

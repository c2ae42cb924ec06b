"""Enrichment of remote addresses: offline country and organisation (geo), and on-request online lookups
(RDAP/whois and reverse DNS) that run in workers, with a deadline and a cache."""

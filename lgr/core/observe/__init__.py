"""Observe: the headless half of `lgr dashboard` — what it watches, counts and scrapes.

- :mod:`.targets`: the components to watch, from `lgr up`'s state or given addresses;
- :mod:`.prom_scrape`: Prometheus text from components' metrics endpoints, parsed, and the
  ingress / egress / dropped totals read from it;
- :mod:`.components`: a background poller turning successive scrapes into rates and health;
- :mod:`.envelope_filter`: which envelopes the stream view shows (source, type, name, regex);
- :mod:`.firehose_feed`: counts per source and type, rates, a bounded sample of recent envelopes;
- :mod:`.feed_runner`: a background thread that reads the rlp (or gateway) into a feed,
  reconnecting and saying why when it cannot;
- :mod:`.series`: bounded time series for the live plots.

Nothing here imports a UI library; every bounded structure has its bound as a constructor argument.
"""

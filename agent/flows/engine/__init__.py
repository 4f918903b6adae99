"""The run engine: admission by run mode, one run's step loop, attempts, durable waits."""

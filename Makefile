# The two commands a newcomer needs; both install what they need first.
.PHONY: run stop status test bench bench-history

run:     ## start Kafka, ClickHouse, every service and demo data, in the background
	deploy/run.sh start

stop:    ## stop everything `make run` started (data is kept in .local/)
	deploy/run.sh stop

status:
	deploy/run.sh status

test:    ## the whole test suite against a real Kafka and ClickHouse
	deploy/test.sh

bench:   ## the end-to-end pipeline benchmark (see BENCHMARKS.md)
	deploy/bootstrap.sh && uv run --frozen python -m bench.pipeline

bench-history:  ## the pipeline with 0, 10M and 50M events already stored (~30 min; see BENCHMARKS.md)
	deploy/bootstrap.sh && uv run --frozen python -m bench.history --history 0,10M,50M

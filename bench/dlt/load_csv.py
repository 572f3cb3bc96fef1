"""The peer in `make bench`: dlt loads the bench's CSV into the same PostgreSQL, merging on the key.

    load_csv.py CSV DATABASE_URL LOADER DATASET     (LOADER: default | csv)

Runs twice on one pipeline: a first load into an empty dataset, then the same file again unchanged (dlt has
no snapshot of its own: the merge compares every row). Prints one JSON line: the seconds of each.
The rows are handed to dlt as the csv module reads them, strings throughout: dlt infers no numbers, so it
does less per row than the product, which parses and validates every value.
"""

import csv
import json
import sys
import time

import dlt


def main() -> None:
    path, url, loader, dataset = sys.argv[1:5]

    @dlt.resource(name="assets", primary_key="id", write_disposition="merge")
    def assets():
        with open(path, newline="", encoding="utf-8") as f:
            yield from csv.DictReader(f)

    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{dataset}",
        pipelines_dir=sys.argv[5] if len(sys.argv) > 5 else None,
        destination=dlt.destinations.postgres(credentials=url),
        dataset_name=dataset,
    )
    options = {} if loader == "default" else {"loader_file_format": loader}
    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        pipeline.run(assets(), **options)
        seconds.append(time.perf_counter() - started)
    with pipeline.sql_client() as client:
        rows = client.execute_sql(f"SELECT count(*) FROM {dataset}.assets")[0][0]
    print(json.dumps({"loader": loader, "first_load_seconds": seconds[0], "rerun_seconds": seconds[1], "rows": rows}))


if __name__ == "__main__":
    main()

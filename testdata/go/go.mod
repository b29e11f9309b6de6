module goanalyze.test/fixtures

go 1.21

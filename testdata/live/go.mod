module live

go 1.21

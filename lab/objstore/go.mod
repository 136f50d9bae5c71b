module etcd-dr/lab/objstore

go 1.26

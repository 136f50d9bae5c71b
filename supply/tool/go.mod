// supplytool: the lab supply's own small tools (OCI image builder, registry push, static file server).
// Standard library only.
module etcd-dr/supply/tool

go 1.24

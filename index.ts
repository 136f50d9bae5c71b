// etcd-dr: one Pulumi program for both sites; the stack's `role` decides which one this is.
import { main } from "./stack/program";

export = main();

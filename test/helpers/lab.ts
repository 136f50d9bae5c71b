// The tests reach the lab the way the drill does.
export * from "../../tools/lab";

//! Host bindings of the `hermes:agent@0.1.0` package. When the package moves, the
//! next version gets its own module beside this one so old guests stay loadable.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "hermes:agent/harness",
    imports: { default: async | trappable },
    exports: { default: async },
});

// `registry/repository` as deploy records name an image, split by the rule docker uses: the first component
// names a registry only when it looks like a host (a '.' or ':' in it, or localhost). Without one, `acme/web`
// would be looked up as another repository than the one deployed, so a registry host is required here.
import { InvalidReferenceError } from "../registry/errors";
import { validateRegistry, validateRepository } from "../registry/reference";

export interface ImageName {
    registry: string;
    repository: string;
}

export function parseImageName(image: string): ImageName {
    const slash = image.indexOf("/");
    const first = slash < 0 ? "" : image.slice(0, slash);
    if (!(first.includes(".") || first.includes(":") || first === "localhost")) {
        throw new InvalidReferenceError("image", image,
            "expected registry/repository with the registry's host, e.g. registry.example.com/rednaw/hello-world or 127.0.0.1:5000/rednaw/hello-world");
    }
    return { registry: validateRegistry(first), repository: validateRepository(image.slice(slash + 1)) };
}

export declare function userCacheDir(name: string): string | null;

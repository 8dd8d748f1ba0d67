/**
 * `@hv/profiles`: guest OS profiles as data. Each profile names the enlightenments a guest OS gets
 * by default, why each one is there, and where the choice comes from (Proxmox qemu-server,
 * virt-install, OpenStack Nova, the TLFS and Microsoft's Requirements document, a Linux 6.1 guest's
 * source), plus the hypervisor version it reports and the GUEST_OS_ID the guest is expected to write.
 * Every profile is validated by the {@link Profile} schema at import time; {@link profileRequest}
 * turns one into the `requested`/`set`/`version` part of an `@hv/compose` request.
 * @module
 */
export * from "./src/profile.ts";
export * from "./src/profiles.ts";

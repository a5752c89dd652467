export { ensureBackend, nativeTensorFlowVersion, measureMatmulGflops, doctor, formatDoctorReport } from './backend.js';
export type { BackendInfo, NativeProvisionStatus, DoctorReport } from './backend.js';

-- The app schema of release d8dfc12 (the previous release), as its models created it
-- on SQLite (SQLModel.metadata.create_all, sqlite_master in creation order). A data
-- directory of that release has exactly these tables: tests/unit/test_migrations.py
-- builds one from this file and upgrades it.
CREATE TABLE feedrecord (
	id VARCHAR NOT NULL,
	identifier VARCHAR NOT NULL,
	sender VARCHAR NOT NULL,
	source_format VARCHAR NOT NULL,
	source VARCHAR NOT NULL,
	msg_type VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	hazard VARCHAR,
	colour VARCHAR,
	sent DATETIME,
	expires DATETIME,
	warning JSON NOT NULL,
	action VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	drill BOOLEAN,
	level VARCHAR(32),
	town_codes JSON NOT NULL,
	village_codes JSON NOT NULL,
	activation_id VARCHAR,
	done BOOLEAN NOT NULL,
	ended BOOLEAN NOT NULL,
	received_at DATETIME NOT NULL,
	targets JSON,
	PRIMARY KEY (id)
);
CREATE INDEX ix_feedrecord_identifier ON feedrecord (identifier);
CREATE TABLE feedstate (
	url VARCHAR NOT NULL,
	etag VARCHAR,
	last_modified VARCHAR,
	last_polled_at DATETIME,
	last_ok_at DATETIME,
	last_error VARCHAR,
	PRIMARY KEY (url)
);
CREATE TABLE town (
	code VARCHAR(9) NOT NULL,
	"key" VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	county_code VARCHAR(6) NOT NULL,
	county VARCHAR NOT NULL,
	office VARCHAR NOT NULL,
	duty_phone VARCHAR NOT NULL,
	lat FLOAT NOT NULL,
	lon FLOAT NOT NULL,
	medical_unit VARCHAR,
	medical_unit_phone VARCHAR,
	PRIMARY KEY (code)
);
CREATE UNIQUE INDEX ix_town_key ON town ("key");
CREATE TABLE village (
	code VARCHAR(12) NOT NULL,
	town_code VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	lat FLOAT NOT NULL,
	lon FLOAT NOT NULL,
	PRIMARY KEY (code),
	FOREIGN KEY(town_code) REFERENCES town (code)
);
CREATE INDEX ix_village_town_code ON village (town_code);
CREATE TABLE cadre (
	code VARCHAR NOT NULL,
	town_code VARCHAR NOT NULL,
	village_code VARCHAR,
	team_code VARCHAR,
	name VARCHAR NOT NULL,
	role VARCHAR(32) NOT NULL,
	title VARCHAR NOT NULL,
	phone VARCHAR NOT NULL,
	PRIMARY KEY (code),
	FOREIGN KEY(town_code) REFERENCES town (code)
);
CREATE INDEX ix_cadre_town_code ON cadre (town_code);
CREATE INDEX ix_cadre_village_code ON cadre (village_code);
CREATE TABLE machine (
	code VARCHAR NOT NULL,
	town_code VARCHAR NOT NULL,
	kind VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	operator_name VARCHAR NOT NULL,
	operator_phone VARCHAR NOT NULL,
	lat FLOAT NOT NULL,
	lon FLOAT NOT NULL,
	PRIMARY KEY (code),
	FOREIGN KEY(town_code) REFERENCES town (code)
);
CREATE INDEX ix_machine_town_code ON machine (town_code);
CREATE TABLE activation (
	id VARCHAR NOT NULL,
	town_code VARCHAR NOT NULL,
	"plan" VARCHAR NOT NULL,
	level VARCHAR(32) NOT NULL,
	status VARCHAR(32) NOT NULL,
	drill BOOLEAN NOT NULL,
	"trigger" VARCHAR NOT NULL,
	basis VARCHAR(32),
	warning_identifier VARCHAR,
	warning JSON,
	scenario VARCHAR,
	village_codes JSON NOT NULL,
	commander_code VARCHAR,
	activated_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	stood_down_at DATETIME,
	clock_offset_s FLOAT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(town_code) REFERENCES town (code)
);
CREATE INDEX ix_activation_town_code ON activation (town_code);
CREATE UNIQUE INDEX uq_activation_open ON activation (town_code, "plan", drill) WHERE status = 'active';
CREATE TABLE registeredperson (
	id VARCHAR NOT NULL,
	town_code VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	grid VARCHAR NOT NULL,
	kind VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	id_number VARCHAR,
	phone VARCHAR,
	came_from VARCHAR NOT NULL,
	left_on DATE NOT NULL,
	arrived_on DATE NOT NULL,
	risk VARCHAR(32) NOT NULL,
	source VARCHAR NOT NULL,
	imported_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(town_code) REFERENCES town (code),
	FOREIGN KEY(village_code) REFERENCES village (code)
);
CREATE INDEX ix_registeredperson_town_code ON registeredperson (town_code);
CREATE INDEX ix_registeredperson_village_code ON registeredperson (village_code);
CREATE TABLE notice (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	village_code VARCHAR,
	channel VARCHAR(32) NOT NULL,
	purpose VARCHAR NOT NULL,
	audience VARCHAR NOT NULL,
	recipient VARCHAR NOT NULL,
	address VARCHAR,
	locale VARCHAR NOT NULL,
	subject VARCHAR NOT NULL,
	body VARCHAR NOT NULL,
	body_format VARCHAR NOT NULL,
	status VARCHAR(32) NOT NULL,
	attempts INTEGER NOT NULL,
	last_error VARCHAR,
	created_at DATETIME NOT NULL,
	sent_at DATETIME,
	next_attempt_at DATETIME,
	lease_until DATETIME,
	lease_owner VARCHAR,
	expires_at DATETIME,
	provider_id VARCHAR,
	delivered_at DATETIME,
	acknowledged_at DATETIME,
	payload JSON,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id)
);
CREATE INDEX ix_notice_status_channel ON notice (status, channel);
CREATE INDEX ix_notice_activation_id ON notice (activation_id);
CREATE TABLE report (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	kind VARCHAR(32) NOT NULL,
	seq INTEGER NOT NULL,
	title VARCHAR NOT NULL,
	text VARCHAR NOT NULL,
	html VARCHAR NOT NULL,
	payload JSON NOT NULL,
	locale VARCHAR NOT NULL,
	deadline_at DATETIME NOT NULL,
	created_at DATETIME NOT NULL,
	late BOOLEAN NOT NULL,
	status VARCHAR(32) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id)
);
CREATE INDEX ix_report_activation_id ON report (activation_id);
CREATE TABLE grid (
	code VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	responsible_cadre_code VARCHAR,
	PRIMARY KEY (code),
	FOREIGN KEY(village_code) REFERENCES village (code)
);
CREATE INDEX ix_grid_village_code ON grid (village_code);
CREATE TABLE assistanceteam (
	code VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	sent_by VARCHAR NOT NULL,
	PRIMARY KEY (code),
	FOREIGN KEY(village_code) REFERENCES village (code)
);
CREATE INDEX ix_assistanceteam_village_code ON assistanceteam (village_code);
CREATE TABLE household (
	code VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	grid_code VARCHAR,
	group_name VARCHAR NOT NULL,
	head_name VARCHAR NOT NULL,
	head_id_number VARCHAR,
	phone VARCHAR,
	members INTEGER NOT NULL,
	address VARCHAR NOT NULL,
	lat FLOAT NOT NULL,
	lon FLOAT NOT NULL,
	house_type VARCHAR NOT NULL,
	safety_rating VARCHAR(32) NOT NULL,
	five_guarantee BOOLEAN NOT NULL,
	left_behind_children BOOLEAN NOT NULL,
	hardship BOOLEAN NOT NULL,
	elderly_alone BOOLEAN NOT NULL,
	mobility_impaired BOOLEAN NOT NULL,
	responsible_cadre_code VARCHAR,
	card_issued BOOLEAN NOT NULL,
	PRIMARY KEY (code),
	FOREIGN KEY(village_code) REFERENCES village (code)
);
CREATE INDEX ix_household_village_code ON household (village_code);
CREATE TABLE hazardpoint (
	code VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	kind VARCHAR(32) NOT NULL,
	risk VARCHAR(32) NOT NULL,
	lat FLOAT NOT NULL,
	lon FLOAT NOT NULL,
	description VARCHAR NOT NULL,
	monitor_cadre_code VARCHAR,
	warning_signal VARCHAR NOT NULL,
	evacuation_route VARCHAR NOT NULL,
	road_code VARCHAR,
	PRIMARY KEY (code),
	FOREIGN KEY(village_code) REFERENCES village (code)
);
CREATE INDEX ix_hazardpoint_village_code ON hazardpoint (village_code);
CREATE TABLE roadsegment (
	code VARCHAR NOT NULL,
	town_code VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	road_name VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	road_class VARCHAR NOT NULL,
	lat FLOAT NOT NULL,
	lon FLOAT NOT NULL,
	PRIMARY KEY (code),
	FOREIGN KEY(town_code) REFERENCES town (code),
	FOREIGN KEY(village_code) REFERENCES village (code)
);
CREATE INDEX ix_roadsegment_town_code ON roadsegment (town_code);
CREATE INDEX ix_roadsegment_village_code ON roadsegment (village_code);
CREATE TABLE shelter (
	code VARCHAR NOT NULL,
	town_code VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	kind VARCHAR NOT NULL,
	capacity INTEGER NOT NULL,
	lat FLOAT NOT NULL,
	lon FLOAT NOT NULL,
	manager_cadre_code VARCHAR,
	PRIMARY KEY (code),
	FOREIGN KEY(town_code) REFERENCES town (code),
	FOREIGN KEY(village_code) REFERENCES village (code)
);
CREATE INDEX ix_shelter_village_code ON shelter (village_code);
CREATE INDEX ix_shelter_town_code ON shelter (town_code);
CREATE TABLE dutyshift (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	cadre_code VARCHAR NOT NULL,
	village_code VARCHAR,
	post VARCHAR NOT NULL,
	starts_at DATETIME NOT NULL,
	ends_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id),
	FOREIGN KEY(cadre_code) REFERENCES cadre (code)
);
CREATE INDEX ix_dutyshift_activation_id ON dutyshift (activation_id);
CREATE TABLE approval (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	level VARCHAR(32) NOT NULL,
	reason VARCHAR NOT NULL,
	decision VARCHAR(32),
	approver VARCHAR NOT NULL,
	remarks VARCHAR NOT NULL,
	simulated BOOLEAN NOT NULL,
	unattended BOOLEAN NOT NULL,
	requested_at DATETIME NOT NULL,
	decided_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id)
);
CREATE INDEX ix_approval_activation_id ON approval (activation_id);
CREATE TABLE patrol (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	requested_at DATETIME NOT NULL,
	confirmed_at DATETIME,
	confirmed_by VARCHAR NOT NULL,
	all_clear BOOLEAN,
	remarks VARCHAR NOT NULL,
	simulated BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id)
);
CREATE INDEX ix_patrol_activation_id ON patrol (activation_id);
CREATE TABLE timelineevent (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	at DATETIME NOT NULL,
	actor VARCHAR NOT NULL,
	action VARCHAR NOT NULL,
	detail VARCHAR NOT NULL,
	simulated BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id)
);
CREATE INDEX ix_timelineevent_activation_id ON timelineevent (activation_id);
CREATE TABLE casualty (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	village_code VARCHAR,
	dead INTEGER NOT NULL,
	missing INTEGER NOT NULL,
	injured INTEGER NOT NULL,
	note VARCHAR NOT NULL,
	reported_by VARCHAR NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id)
);
CREATE INDEX ix_casualty_activation_id ON casualty (activation_id);
CREATE TABLE hazardthreat (
	hazard_code VARCHAR NOT NULL,
	household_code VARCHAR NOT NULL,
	zone VARCHAR(32) NOT NULL,
	PRIMARY KEY (hazard_code, household_code),
	FOREIGN KEY(hazard_code) REFERENCES hazardpoint (code),
	FOREIGN KEY(household_code) REFERENCES household (code)
);
CREATE INDEX ix_hazardthreat_household_code ON hazardthreat (household_code);
CREATE TABLE inspection (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	hazard_code VARCHAR NOT NULL,
	phase VARCHAR(32) NOT NULL,
	status VARCHAR(32) NOT NULL,
	finding VARCHAR NOT NULL,
	checklist JSON NOT NULL,
	inspector_code VARCHAR,
	simulated BOOLEAN NOT NULL,
	inspected_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id),
	FOREIGN KEY(hazard_code) REFERENCES hazardpoint (code)
);
CREATE INDEX ix_inspection_village_code ON inspection (village_code);
CREATE INDEX ix_inspection_activation_id ON inspection (activation_id);
CREATE TABLE relocation (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	household_code VARCHAR NOT NULL,
	people INTEGER NOT NULL,
	zone VARCHAR(32) NOT NULL,
	hazard_codes JSON NOT NULL,
	reasons JSON NOT NULL,
	vulnerabilities JSON NOT NULL,
	max_risk VARCHAR(32),
	priority INTEGER NOT NULL,
	cadre_code VARCHAR,
	original_cadre_code VARCHAR,
	shelter_code VARCHAR,
	shortfall BOOLEAN NOT NULL,
	status VARCHAR(32) NOT NULL,
	urgent BOOLEAN NOT NULL,
	removed_by VARCHAR,
	removed_at DATETIME,
	ordered_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id),
	FOREIGN KEY(household_code) REFERENCES household (code)
);
CREATE INDEX ix_relocation_village_code ON relocation (village_code);
CREATE INDEX ix_relocation_activation_id ON relocation (activation_id);
CREATE TABLE roadincident (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	road_code VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	cause VARCHAR NOT NULL,
	description VARCHAR NOT NULL,
	machine_code VARCHAR,
	status VARCHAR(32) NOT NULL,
	reported_at DATETIME NOT NULL,
	dispatched_at DATETIME,
	reopened_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id),
	FOREIGN KEY(road_code) REFERENCES roadsegment (code)
);
CREATE INDEX ix_roadincident_activation_id ON roadincident (activation_id);
CREATE TABLE escalation (
	id VARCHAR NOT NULL,
	activation_id VARCHAR NOT NULL,
	village_code VARCHAR NOT NULL,
	household_code VARCHAR NOT NULL,
	kind VARCHAR NOT NULL,
	status_then VARCHAR(32) NOT NULL,
	to_cadre_code VARCHAR,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(activation_id) REFERENCES activation (id),
	FOREIGN KEY(household_code) REFERENCES household (code)
);
CREATE INDEX ix_escalation_activation_id ON escalation (activation_id);
